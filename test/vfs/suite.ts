// Registers the VFS scenarios (scenarios.ts) for one driver in every --vfs-cache-mode: one
// server and bucket per test file, one driver (a Vfs, or a mount) per cache mode, stopped in
// after() also when a scenario failed; each scenario in a folder of its own.
import { after, before, describe, test } from 'node:test';
import { useS3Bucket } from '../helpers/mount.js';
import type { TestS3 } from '../helpers/s3-server.js';
import { cleanupVfsDirs } from '../helpers/vfs-instance.js';
import { CACHE_MODES, type CacheMode, type Driver } from './drivers.js';
import { SCENARIOS } from './scenarios.js';

export function vfsSuite(bucketName: string, start: (s3: TestS3, bucket: string, mode: CacheMode) => Promise<Driver>): void {
  const bucket = useS3Bucket(bucketName);
  after(cleanupVfsDirs);
  for (const mode of CACHE_MODES) {
    describe(`--vfs-cache-mode ${mode}`, () => {
      let driver: Driver | undefined;
      before(async () => {
        // seeds first: a driver's listings would not show objects put after it looked
        for (const [i, s] of SCENARIOS.entries()) {
          for (const [name, body] of Object.entries(s.seeds ?? {})) await bucket.putObject(`${mode}-${i}/${name}`, body);
        }
        driver = await start(bucket.s3, bucketName, mode);
      });
      after(async () => {
        await driver?.close();
      });
      SCENARIOS.forEach((s, i) => {
        const folder = `${mode}-${i}`;
        test(s.name, { timeout: 60_000 }, async () => {
          if (!driver) throw new Error('no driver (its start failed)');
          if (!s.seeds) await driver.mkdir(`/${folder}`);
          await s.run({
            d: driver,
            mode,
            dir: `/${folder}`,
            object: (name) => bucket.getObject(`${folder}/${name}`),
          });
        });
      });
    });
  }
}
