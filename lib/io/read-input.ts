/**
 * Reads one input file (spec, startup config, lock) as a user's input: a regular file only (never a
 * FIFO or a device, which would block or never end), at most MAX_INPUT_BYTES, valid UTF-8.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** Far above any startup config (the real ones are tens of KiB; 10,000 agents are about 1.5 MiB). */
export const MAX_INPUT_BYTES = 8 * 2 ** 20;

export type ReadResult =
  | { readonly ok: true; readonly text: string }
  | {
      readonly ok: false;
      readonly code: 'missing-file' | 'unreadable-file' | 'parse-error';
      readonly reason: string;
      readonly line?: number;
      readonly column?: number;
    };

export function readInput(file: string): ReadResult {
  let fd: number;
  try {
    // Non-blocking, so that opening a FIFO with no writer returns at once; fstat then refuses it.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, code: 'missing-file', reason: 'not found' };
    if (code === 'ELOOP') return { ok: false, code: 'unreadable-file', reason: 'is a symbolic link loop' };
    return {
      ok: false,
      code: 'unreadable-file',
      reason:
        code === 'EACCES' || code === 'EPERM'
          ? 'cannot be read: permission denied'
          : `cannot be read (${code ?? (e as Error).message})`,
    };
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) return { ok: false, code: 'unreadable-file', reason: 'is a directory, not a file' };
    if (!st.isFile())
      return { ok: false, code: 'unreadable-file', reason: 'is not a regular file (a FIFO, socket or device)' };
    if (st.size > MAX_INPUT_BYTES)
      return {
        ok: false,
        code: 'unreadable-file',
        reason: `is ${(st.size / 2 ** 20).toFixed(1)} MiB, more than the ${MAX_INPUT_BYTES / 2 ** 20} MiB an input may be`,
      };
    // Read at most one byte past the cap: a file that grows while it is read is refused too.
    const buf = Buffer.alloc(Math.min(st.size, MAX_INPUT_BYTES) + 1);
    let n = 0;
    for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0;) n += r;
    if (n > MAX_INPUT_BYTES)
      return {
        ok: false,
        code: 'unreadable-file',
        reason: `grew past the ${MAX_INPUT_BYTES / 2 ** 20} MiB an input may be while it was read`,
      };
    const bytes = buf.subarray(0, n);
    const bad = firstInvalidUtf8(bytes);
    if (bad >= 0) {
      const before = bytes.subarray(0, bad);
      const line = before.filter((b) => b === 0x0a).length + 1;
      const column = bad - (before.lastIndexOf(0x0a) + 1) + 1;
      return {
        ok: false,
        code: 'parse-error',
        reason: `byte 0x${bytes[bad]!.toString(16).padStart(2, '0')} is not valid UTF-8; save the file as UTF-8`,
        line,
        column,
      };
    }
    return { ok: true, text: bytes.toString('utf8') };
  } finally {
    closeSync(fd);
  }
}

/** Offset of the first byte that starts no valid UTF-8 sequence (overlong forms and surrogates included), or -1. */
export function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len === 0 || i + len > b.length) return i;
    for (let k = 1; k < len; k++) if ((b[i + k]! & 0xc0) !== 0x80) return i;
    const c1 = b[i + 1]!;
    if (
      (c === 0xe0 && c1 < 0xa0) ||
      (c === 0xed && c1 > 0x9f) ||
      (c === 0xf0 && c1 < 0x90) ||
      (c === 0xf4 && c1 > 0x8f)
    )
      return i;
    i += len;
  }
  return -1;
}
