// Which fuse-native bucketfs runs on. The npm package's prebuilt binding (2.2.6) cannot keep
// modification times: its utimens hands JavaScript the atime in place of the mtime, libfuse
// never calls it for a utimensat that omits the atime (tar x, touch -m), and times are
// milliseconds both ways. scripts/build-fuse-native builds the binding with
// patches/fuse-native-2.2.6.patch (nanosecond times, the real mtime, UTIME_OMIT/UTIME_NOW) and
// installs it with the patched index.js; the patched module says so with Fuse.NS_TIMES.
//
// A mount refuses to start on anything else: it would store wrong modification times without
// a word (the build is offline and takes seconds; scripts/setup runs it).
import Fuse from 'fuse-native';
import { UserError, EXIT } from '../util/errors.js';

/** true when fuse-native is the patched build (its index.js and its native binding). */
export function fuseNativeIsPatched(): boolean {
  return Fuse.NS_TIMES === true;
}

export function requirePatchedFuseNative(): void {
  if (fuseNativeIsPatched()) return;
  const what = Fuse.NS_TIMES === false ? 'its patched index.js runs the unpatched prebuilt binding' : 'it is the unpatched npm package';
  throw new UserError(
    `fuse-native is not the patched build bucketfs needs to keep modification times (${what}): run scripts/build-fuse-native (scripts/setup does)`,
    EXIT.fatal,
  );
}
