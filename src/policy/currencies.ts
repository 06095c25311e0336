/**
 * ISO 4217 currencies and the number of decimal digits of their minor unit. Policy amounts are
 * converted to minor units with these digits, so a currency missing here is an error rather than a
 * guess: a wrong digit count would scale every threshold by a factor of ten.
 */

const ZERO_DIGITS = ['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'];

const THREE_DIGITS = ['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND'];

const FOUR_DIGITS = ['CLF', 'UYW'];

const TWO_DIGITS = [
  'AED', 'AFN', 'ALL', 'AMD', 'ANG', 'AOA', 'ARS', 'AUD', 'AWG', 'AZN', 'BAM', 'BBD', 'BDT', 'BGN',
  'BMD', 'BND', 'BOB', 'BRL', 'BSD', 'BTN', 'BWP', 'BYN', 'BZD', 'CAD', 'CDF', 'CHF', 'CNY', 'COP',
  'CRC', 'CUP', 'CVE', 'CZK', 'DKK', 'DOP', 'DZD', 'EGP', 'ERN', 'ETB', 'EUR', 'FJD', 'FKP', 'GBP',
  'GEL', 'GHS', 'GIP', 'GMD', 'GTQ', 'GYD', 'HKD', 'HNL', 'HTG', 'HUF', 'IDR', 'ILS', 'INR', 'IRR',
  'JMD', 'KES', 'KGS', 'KHR', 'KPW', 'KYD', 'KZT', 'LAK', 'LBP', 'LKR', 'LRD', 'LSL', 'MAD', 'MDL',
  'MGA', 'MKD', 'MMK', 'MNT', 'MOP', 'MRU', 'MUR', 'MVR', 'MWK', 'MXN', 'MYR', 'MZN', 'NAD', 'NGN',
  'NIO', 'NOK', 'NPR', 'NZD', 'PAB', 'PEN', 'PGK', 'PHP', 'PKR', 'PLN', 'QAR', 'RON', 'RSD', 'RUB',
  'SAR', 'SBD', 'SCR', 'SDG', 'SEK', 'SGD', 'SHP', 'SLE', 'SOS', 'SRD', 'SSP', 'STN', 'SVC', 'SYP',
  'SZL', 'THB', 'TJS', 'TMT', 'TOP', 'TRY', 'TTD', 'TWD', 'TZS', 'UAH', 'USD', 'UZS', 'VES', 'WST',
  'XCD', 'YER', 'ZAR', 'ZMW', 'ZWL',
];

/** Currency code -> minor-unit digits (CNY 2, JPY 0, KWD 3). */
export const CURRENCY_MINOR_DIGITS: ReadonlyMap<string, number> = new Map([
  ...ZERO_DIGITS.map((code) => [code, 0] as const),
  ...TWO_DIGITS.map((code) => [code, 2] as const),
  ...THREE_DIGITS.map((code) => [code, 3] as const),
  ...FOUR_DIGITS.map((code) => [code, 4] as const),
]);

/** Minor-unit digits of `code`, or undefined when the currency is not known. */
export function minorUnitDigits(code: string): number | undefined {
  return CURRENCY_MINOR_DIGITS.get(code);
}
