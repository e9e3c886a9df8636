/** IPv4 literals in text: one finder for the configs and the Python sources, validated by Node's own rule. */
import { isIPv4 } from 'node:net';

/** Four dotted groups of digits not inside a longer dotted number, with an optional `/prefix`. */
const CANDIDATE = /(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(\/\d{1,2})?(?![\d.])/g;

export interface IPv4Literal {
  readonly address: string;
  /** `/16` when the literal is a subnet. */
  readonly prefix?: string;
  /** Offset of the address in the text. */
  readonly index: number;
}

/** Every IPv4 address in `text` (`net.isIPv4`: no octet above 255, no leading zeros). */
export function findIPv4(text: string): IPv4Literal[] {
  const out: IPv4Literal[] = [];
  for (const m of text.matchAll(CANDIDATE)) {
    if (isIPv4(m[1]!)) out.push({ address: m[1]!, ...(m[2] ? { prefix: m[2] } : {}), index: m.index! });
  }
  return out;
}

/** The any-address and loopback: never a machine's address, so never reported. */
export const isAnyOrLoopback = (address: string) => address === '0.0.0.0' || address.startsWith('127.');

export { isIPv4 };
