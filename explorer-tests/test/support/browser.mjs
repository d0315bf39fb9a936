// Debian's Chromium, headless, driven by playwright-core (which downloads
// no browser of its own). `--no-sandbox` because CI runs as root, where
// Chromium's sandbox refuses to start.

import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}
