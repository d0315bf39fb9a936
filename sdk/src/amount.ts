// Amounts are u64 base units on chain; people write decimal strings in
// token units ("12.50" of a token with 2 decimals is 1250).

import { MAX_DECIMALS } from './limits.js';

const U64_MAX = (1n << 64n) - 1n;

/** Base units of `text` ("12.50") for a token with `decimals` places. */
export function parseAmount(text: string, decimals: number): bigint {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > MAX_DECIMALS) {
    throw new Error(`a token has 0 to ${MAX_DECIMALS} decimals, got ${decimals}`);
  }
  const m = /^([0-9]+)(?:\.([0-9]+))?$/.exec(text.trim());
  if (!m) throw new Error(`\`${text}\` is not a decimal number`);
  const fraction = (m[2] ?? '').replace(/0+$/, '');
  if (fraction.length > decimals) throw new Error(`\`${text}\` has more than ${decimals} decimal places`);
  const units = BigInt(m[1]) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, '0') || '0');
  if (units > U64_MAX) throw new Error(`\`${text}\` is too large`);
  return units;
}

/** `units` as a decimal string with exactly `decimals` places. */
export function formatAmount(units: bigint, decimals: number): string {
  if (decimals === 0) return units.toString();
  const s = units.toString().padStart(decimals + 1, '0');
  return `${s.slice(0, -decimals)}.${s.slice(-decimals)}`;
}
