// Name encoding: the port of rclone's lib/encoder must produce rclone's exact output. The
// vectors below are rclone's own (lib/encoder/encoder_test.go and encoder_cases_test.go).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Enc, NameEncoder, S3_DEFAULT_MASK, STANDARD_MASK, decodeBytes, encodeBytes, maskFromNames } from '../../src/backend/s3/encoding.js';
import { logicalNameFromBytes, logicalNameToBytes } from '../../src/backend/s3/utf8.js';
import { BackendError } from '../../src/backend/s3/backend-error.js';

/** Go string literal semantics: these tests hold raw bytes (e.g. "\xBF") as latin1 escapes. */
function goBytes(s: string): Buffer {
  // characters < 0x100 written as \xNN in the Go source are raw bytes; others are UTF-8 runes
  const parts: Buffer[] = [];
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x80 && cp <= 0xff) parts.push(Buffer.from([cp]));
    else parts.push(Buffer.from(ch, 'utf8'));
  }
  return Buffer.concat(parts);
}

function enc(mask: number, s: string): string {
  return Buffer.from(encodeBytes(mask, goBytes(s))).toString('latin1');
}
function roundTrip(mask: number, input: string, output: string) {
  const e = Buffer.from(encodeBytes(mask, goBytes(input)));
  assert.deepEqual(e, goBytes(output), `Encode(${JSON.stringify(input)}) with mask ${mask}`);
  const d = Buffer.from(decodeBytes(mask, e));
  assert.deepEqual(d, goBytes(input), `Decode(${JSON.stringify(output)})`);
}

test('rclone single-mask vectors encode and decode exactly', () => {
  const cases: Array<[number, string, string]> = [
    [Enc.Zero, '␆2π\rｊ８␙aｗ␡k\x05\x19β\x00σ\x15τ７␗\x01R:␀τ␍β7７␊', '␆2π\rｊ８␙aｗ␡k\x05\x19β␀σ\x15τ７␗\x01R:‛␀τ␍β7７␊'],
    [Enc.Slash, '＊␟VＪｇ␚Ｋ$/+\x00／φ␌/π>\x16ρRα/ζ␇＜VLν＞ｑ', '＊␟VＪｇ␚Ｋ$／+␀‛／φ␌／π>\x16ρRα／ζ␇＜VLν＞ｑ'],
    [Enc.SingleQuote, "γ␇＇Ｐｎ\x06χ\x1eε␟[υ'］］ζM2ω␒␅$?ＡＮ＂^''\x02", 'γ␇‛＇Ｐｎ\x06χ\x1eε␟[υ＇］］ζM2ω␒␅$?ＡＮ＂^＇＇\x02'],
    [Enc.LtGt, '４␁>ｏ\x10\x1fＰι,␋Pυ\b＜?␍！９tπ＞<␞\x00(ης：oε', '４␁＞ｏ\x10\x1fＰι,␋Pυ\b‛＜?␍！９tπ‛＞＜␞␀(ης：oε'],
    [Enc.SquareBracket, '␉␊*ενm\x1bρ[M+τ\v\x05\nνw＾］␄␔ｑ．ψＩ0Ｘ␎［]', '␉␊*ενm\x1bρ［M+τ\v\x05\nνw＾‛］␄␔ｑ．ψＩ0Ｘ␎‛［］'],
    [Enc.Colon, "ωQ＝λ␏γ␟：｀ε／#Ｒ:!%␀\x02:Ｙ*８#'π＞ν\x11␓=", "ωQ＝λ␏γ␟‛：｀ε／#Ｒ：!%‛␀\x02：Ｙ*８#'π＞ν\x11␓="],
    [Enc.Percent, '\n\x10␚␖Ｘ/␍ｋp＊λ[:\x17θｔg\x07％ｋρ;%υο：Oξ␒␎', '\n\x10␚␖Ｘ/␍ｋp＊λ[:\x17θｔg\x07‛％ｋρ;％υο：Oξ␒␎'],
    [Enc.CrLf, 'λ２θNY:Ｈ␊\r］␂\x13ｂ\x15␎h\f␍@ε\r␆␋μQＰ\nξ␙φ', 'λ２θNY:Ｈ‛␊␍］␂\x13ｂ\x15␎h\f‛␍@ε␍␆␋μQＰ␊ξ␙φ'],
    [Enc.Del, 'θ？␄＜μ7π\x1a＼␡2"x\x7fο\x16ｚ%ο?␐ｗ＃␟ξa\tOＸ＇', 'θ？␄＜μ7π\x1a＼‛␡2"x␡ο\x16ｚ%ο?␐ｗ＃␟ξa\tOＸ＇'],
    [Enc.LeftSpace, ' ', '␠'],
    [Enc.Zero | Enc.LeftSpace, ' ␠]［', '␠␠]［'],
    [Enc.Zero | Enc.LeftSpace, '␠␠]［', '‛␠␠]［'],
    [Enc.Dot, '.', '．'],
    [Enc.Dot, '..', '．．'],
    [Enc.Dot, '...', '...'],
    [Enc.Dot, '. .', '. .'],
    [Enc.Zero, '.', '.'],
    // invalid UTF-8 (TestEncodeInvalidUnicode)
    [Enc.InvalidUtf8, '\xBF', '‛BF'],
    [Enc.InvalidUtf8, '\xBF\xFE', '‛BF‛FE'],
    [Enc.InvalidUtf8, 'a\xBFξ\xFEb', 'a‛BFξ‛FEb'],
    [Enc.InvalidUtf8 | Enc.BackSlash, 'a\xBF\\\xFEb', 'a‛BF＼‛FEb'],
    [0, 'a\xBF\xFEb', 'a\xBF\xFEb'],
  ];
  for (const [mask, input, output] of cases) roundTrip(mask, input, output);
});

test('rclone Ctl vector', () => {
  roundTrip(
    Enc.Ctl,
    '\x1f␝␚ν\b\x16＊\x05\x1b\x06\b␉\r\x02\x07μ\x17␋␄/ω５␓δ\x0e\x1d␈IY\v␗\x14>３␔␊␍\t\x07␕␁\x13\x18\x1e␞␎F␂\x03\x1a␙\x19χ！␌␑\x12␐␏␘␔\x11␅␌\x0f␖\x04\x1c\x10␜0␛\x01X␓\f\x7f␋␆␍\x15ｇ␇␟π＊]\n␃*␒？V',
    '␟‛␝‛␚ν␈␖＊␅␛␆␈‛␉␍␂␇μ␗‛␋‛␄/ω５‛␓δ␎␝‛␈IY␋‛␗␔>３‛␔‛␊‛␍␉␇‛␕‛␁␓␘␞‛␞‛␎F‛␂␃␚‛␙␙χ！‛␌‛␑␒‛␐‛␏‛␘‛␔␑‛␅‛␌␏‛␖␄␜␐‛␜0‛␛␁X‛␓␌\x7f‛␋‛␆‛␍␕ｇ‛␇‛␟π＊]␊‛␃*‛␒？V',
  );
});

test('rclone OneDrive-style mask vectors (left tilde, right period, right space)', () => {
  const oneDrive =
    STANDARD_MASK |
    Enc.Colon |
    Enc.Question |
    Enc.DoubleQuote |
    Enc.Asterisk |
    Enc.LtGt |
    Enc.Pipe |
    Enc.BackSlash |
    Enc.Hash |
    Enc.Percent |
    Enc.Del |
    Enc.Ctl |
    Enc.LeftTilde |
    Enc.RightSpace |
    Enc.RightPeriod;
  roundTrip(oneDrive, '\\*<>?:|#%".~', '＼＊＜＞？：｜＃％＂.~');
  roundTrip(oneDrive, '~leading tilde', '～leading tilde');
  roundTrip(oneDrive, 'trailing dot.', 'trailing dot．');
  roundTrip(oneDrive, ' leading space/ leading space', ' leading space／ leading space');
});

test('rclone partial-quote decodes (TestDecodeHalf)', () => {
  const dec = (mask: number, s: string) => Buffer.from(decodeBytes(mask, goBytes(s))).toString('latin1');
  const want = (s: string) => goBytes(s).toString('latin1');
  assert.equal(dec(0, '‛'), want('‛'));
  assert.equal(dec(Enc.Zero, '‛‛'), want('‛'));
  assert.equal(dec(0, '‛a‛'), want('‛a‛'));
  assert.equal(dec(Enc.InvalidUtf8, 'a‛B‛Eg'), want('a‛B‛Eg'));
  assert.equal(dec(Enc.InvalidUtf8 | Enc.BackSlash, 'a‛B＼‛Eg'), want('a‛B\\‛Eg'));
  void enc;
});

test('encoding option names parse like rclone MultiEncoder.Set', () => {
  assert.equal(maskFromNames(['Slash', 'InvalidUtf8', 'Dot']), S3_DEFAULT_MASK);
  assert.equal(maskFromNames(['Hash,Percent'.split(',')].flat()), Enc.Hash | Enc.Percent);
  assert.equal(maskFromNames(['Semicolon']), Enc.Semicolon);
  assert.equal(maskFromNames(['SemiColon']), Enc.Semicolon);
  assert.equal(maskFromNames(['None']), 0);
  assert.equal(maskFromNames(['Slash', '0x80000000']), (Enc.Slash | 0x80000000) >>> 0);
  assert.throws(() => maskFromNames(['Blerp']), /bad encoding "Blerp"/);
  assert.throws(() => maskFromNames(['0xFGFFF']), /bad encoding/);
});

test('logical names: invalid UTF-8 bytes survive as U+DC80..U+DCFF', () => {
  const raw = Buffer.from([0x61, 0xff, 0x62, 0xc3, 0xa9, 0xe2, 0x82]);
  const name = logicalNameFromBytes(raw);
  assert.equal(name, 'a\udcffbé\udce2\udc82');
  assert.deepEqual(logicalNameToBytes(name), raw);
  assert.equal(logicalNameToBytes('bad\ud800'), null);
  // a real U+FFFD is a character, not an invalid byte
  assert.deepEqual(logicalNameToBytes('\ufffd'), Buffer.from([0xef, 0xbf, 0xbd]));
});

test('default S3 encoding: keys are what rclone stores', () => {
  const e = new NameEncoder(S3_DEFAULT_MASK);
  // [logical (standard form), key, logical shown for that key when not the same]
  const cases: Array<[string, string, string?]> = [
    ['plain/name.txt', 'plain/name.txt'],
    // '.' and '..' cannot be file names: stored as fullwidth dots and shown as such, as rclone
    ['.', '．', '．'],
    ['．', '．'],
    ['a/../b', 'a/．．/b', 'a/．．/b'],
    ['a/．．/b', 'a/．．/b'],
    ['...', '...'],
    ['a／b', 'a／b'], // a '/' inside a name (standard form) is stored as FULLWIDTH SOLIDUS
    ['a‛／b', 'a‛／b'], // a literal fullwidth solidus stays distinguishable
    // a lone quote is shown quoted (rclone's standard form of '‛' is '‛‛'); both names reach the key
    ['‛', '‛‛', '‛‛'],
    ['‛‛', '‛‛'],
    ['␀x', '␀x'], // NUL in standard form is stored as the symbol
    ['␁', '\x01'], // control characters are raw in S3 keys (standard form shows symbols)
    [' lead and trail ', ' lead and trail '],
    ['\udcff', '‛FF'],
    ['caf\u00e9', 'caf\u00e9'],
    ['cafe\u0301', 'cafe\u0301'],
  ];
  for (const [logical, key, back] of cases) {
    assert.equal(e.keyFromPath(logical), key, `key of ${JSON.stringify(logical)}`);
    assert.equal(e.pathFromKey(key), back ?? logical, `path of ${JSON.stringify(key)}`);
  }
  assert.equal(e.dirPrefix(''), '');
  assert.equal(e.dirPrefix('a/b/'), 'a/b/');
  assert.equal(e.encodePathSegmentFromBytes(Buffer.from([0x78, 0xfe])), 'x‛FE');
});

test('keys longer than 1024 bytes are InvalidName', () => {
  const e = new NameEncoder(S3_DEFAULT_MASK);
  assert.equal(e.keyFromPath('x'.repeat(1024)).length, 1024);
  assert.throws(
    () => e.keyFromPath('é'.repeat(513)),
    (err: unknown) => err instanceof BackendError && err.kind === 'InvalidName' && /name too long/.test(err.message),
  );
});

test('without InvalidUtf8 a name with invalid bytes cannot become a key', () => {
  const e = new NameEncoder(maskFromNames(['Slash', 'Dot']));
  assert.throws(
    () => e.keyFromPath('a\udcff'),
    (err: unknown) => err instanceof BackendError && err.kind === 'InvalidName',
  );
});

test('Raw leaves names alone apart from the standard decode', () => {
  const e = new NameEncoder(Enc.Raw);
  assert.equal(e.keyFromPath('a:b*c'), 'a:b*c');
  assert.equal(e.pathFromKey('a:b*c'), 'a:b*c');
});
