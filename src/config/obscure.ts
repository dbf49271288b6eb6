// rclone's "obscured" passwords (lib/obscure): AES-256-CTR under a key fixed in rclone's source,
// a random IV in front, base64url without padding. Not encryption (anyone can reveal one):
// it keeps a password from being read at a glance, as rclone says. Node's crypto does the cipher.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const KEY = Buffer.from([
  0x9c, 0x93, 0x5b, 0x48, 0x73, 0x0a, 0x55, 0x4d, 0x6b, 0xfd, 0x7c, 0x63, 0xc8, 0x86, 0xa9, 0x2b, 0xd3, 0x90, 0x19, 0x8e, 0xb8, 0x12, 0x8a, 0xfb, 0xf4, 0xde,
  0x16, 0x2b, 0x8b, 0x95, 0xf6, 0x38,
]);
const IV_BYTES = 16;

/** `plain` obscured as rclone obscures it (a new random IV each time; `iv` for tests). */
export function obscure(plain: string, iv: Buffer = randomBytes(IV_BYTES)): string {
  const c = createCipheriv('aes-256-ctr', KEY, iv);
  return Buffer.concat([iv, c.update(plain, 'utf8'), c.final()]).toString('base64url');
}

/** The password in an obscured string; throws rclone's messages for one that is not. */
export function reveal(obscured: string): string {
  const bad = /[^A-Za-z0-9_-]/.exec(obscured);
  if (bad) throw new Error(`base64 decode failed when revealing password - is it obscured?: illegal base64 data at input byte ${bad.index}`);
  const data = Buffer.from(obscured, 'base64url');
  if (data.length < IV_BYTES) throw new Error('input too short when revealing password - is it obscured?');
  const d = createDecipheriv('aes-256-ctr', KEY, data.subarray(0, IV_BYTES));
  return Buffer.concat([d.update(data.subarray(IV_BYTES)), d.final()]).toString('utf8');
}
