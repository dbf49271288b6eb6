// Which fuse-native bucketfs runs on. The npm package's prebuilt binding (2.2.6) runs on a
// bundled libfuse 2.9 (128 KiB requests, no file handle in getattr) and cannot keep
// modification times: its utimens hands JavaScript the atime in place of the mtime, and times
// are milliseconds both ways. scripts/build-fuse-native builds the binding on the system's
// libfuse 3 with patches/fuse-native-2.2.6.patch (nanosecond times, the real mtime,
// UTIME_OMIT/UTIME_NOW, 1 MiB requests) and installs it with the patched index.js; the patched
// module says so with Fuse.NS_TIMES and Fuse.LIBFUSE_VERSION.
//
// A mount refuses to start on anything else: it would store wrong modification times without
// a word (the build is offline and takes seconds; scripts/setup runs it).
import Fuse from 'fuse-native';
import { UserError, EXIT } from '../util/errors.js';

/** true when fuse-native is the patched build (its index.js and its native binding). */
export function fuseNativeIsPatched(): boolean {
  return Fuse.NS_TIMES === true;
}

/** libfuse 3.12: the binding's loop sets its own thread limit (see the patch's header) */
const MIN_LIBFUSE = 312;

export function requirePatchedFuseNative(): void {
  if (fuseNativeIsPatched() && Fuse.LIBFUSE_VERSION >= MIN_LIBFUSE) return;
  if (fuseNativeIsPatched()) {
    throw new UserError(
      `fuse-native's binding was built for libfuse 2, bucketfs now needs libfuse 3: run scripts/build-fuse-native (scripts/setup does)`,
      EXIT.fatal,
    );
  }
  const what = Fuse.NS_TIMES === false ? 'its patched index.js runs the unpatched prebuilt binding' : 'it is the unpatched npm package';
  throw new UserError(
    `fuse-native is not the patched build bucketfs needs to keep modification times (${what}): run scripts/build-fuse-native (scripts/setup does)`,
    EXIT.fatal,
  );
}
