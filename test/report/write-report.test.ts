import { afterAll, describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderPage } from '../../src/report/html.js';
import { writeReport } from '../../src/report/write-report.js';
import { makeTempDir } from '../helpers.js';

describe('writeReport', () => {
  const dir = makeTempDir();
  afterAll(() => dir.remove());
  const warnings: string[] = [];
  const logger = { warn: (message: string) => warnings.push(message) };

  test('a report that fails to render warns, names itself and leaves nothing behind', async () => {
    const path = join(dir.path, 'failed.html');
    const written = await writeReport(
      path,
      async () => {
        throw new Error('no data');
      },
      logger,
    );
    expect(written).toBeUndefined();
    expect(warnings.pop()).toBe(`the report ${path} was not written: no data`);
    expect(readdirSync(dir.path)).toEqual([]);
  });

  test("an earlier report is replaced; a user's file of that name is not", async () => {
    const path = join(dir.path, 'report.html');
    const page = (title: string) => async () => renderPage({ title, lead: '', sections: [] });
    expect(await writeReport(path, page('first'), logger)).toBe(path);
    expect(await writeReport(path, page('second'), logger)).toBe(path);
    expect(readFileSync(path, 'utf8')).toContain('<title>second</title>');
    writeFileSync(path, '<html>my notes</html>');
    expect(await writeReport(path, page('third'), logger)).toBeUndefined();
    expect(readFileSync(path, 'utf8')).toBe('<html>my notes</html>');
    expect(warnings.pop()).toMatch(/a file of that name is there and longiseg did not write it/);
    expect(existsSync(path)).toBe(true);
  });
});
