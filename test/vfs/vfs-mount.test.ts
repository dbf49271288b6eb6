// The VFS scenarios (scenarios.ts) through a real kernel mount (a `bucketfs mount` child, node
// fs calls), in every --vfs-cache-mode. vfs-direct.test.ts runs the same straight into a Vfs.
import { vfsSuite } from './suite.js';
import { MountDriver } from './drivers.js';

vfsSuite('vfstest-mount', (s3, bucket, mode) => MountDriver.start(s3, bucket, mode));
