// The VFS scenarios (scenarios.ts) straight against a Vfs in this process, over the test
// server, in every --vfs-cache-mode. vfs-mount.test.ts runs the same through a kernel mount.
import { vfsSuite } from './suite.js';
import { VfsDriver } from './drivers.js';

vfsSuite('vfstest-direct', (s3, bucket, mode) => VfsDriver.start(s3, bucket, mode));
