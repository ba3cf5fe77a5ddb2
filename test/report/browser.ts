import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { repoRoot } from '../helpers.js';

/** Debian's Chromium, which the report tests open every report in. */
export const CHROMIUM = process.env.LONGISEG_TEST_CHROMIUM ?? '/usr/bin/chromium';
/** Where the tests leave a screenshot of each stage's report (CI keeps them). */
export const SCREENSHOTS = join(repoRoot, 'test-output', 'screenshots');

/** Whether the browser tests run: where Chromium is, and always where CI asks for them. */
export function browserAvailable(): boolean {
  if (process.env.LONGISEG_TEST_BROWSER === '1' && !existsSync(CHROMIUM))
    throw new Error(`LONGISEG_TEST_BROWSER=1 but ${CHROMIUM} is not installed (apt-get install chromium)`);
  return existsSync(CHROMIUM);
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    // no network on these machines: Chromium's background connections would only fail
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

export interface OpenedReport {
  errors: string[];
  images: number;
  figures: number;
  /** Images that failed to decode. */
  brokenImages: number;
  text: string;
  /** The page's requests other than the file itself and data: URLs: none, as it is self-contained. */
  requests: string[];
}

/** Opens a report, collects console errors and what it shows, and saves a full-page screenshot. */
export async function openReport(browser: Browser, path: string, screenshot: string): Promise<OpenedReport> {
  const page = await browser.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith('data:') && url !== `file://${path}`) requests.push(url);
  });
  await page.goto(`file://${path}`, { waitUntil: 'load' });
  // an image that did not decode has no natural width
  const brokenImages = await page
    .locator('img')
    .evaluateAll((images) => images.filter((image) => !('naturalWidth' in image) || image.naturalWidth === 0).length);
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, screenshot), fullPage: true });
  const opened = {
    errors,
    images: await page.locator('img').count(),
    figures: await page.locator('figure').count(),
    brokenImages,
    text: await page.locator('body').innerText(),
    requests,
  };
  await page.close();
  return opened;
}
