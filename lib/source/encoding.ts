/**
 * The text of a Python source as CPython decodes it (PEP 263): a UTF-8 byte order mark, else an
 * encoding declaration on the first or second line, else UTF-8. A text read here is written back
 * byte for byte where it was not edited.
 */

/** A source decoded: its text, and how to turn an edited text back into bytes in the same encoding. */
export type DecodedSource =
  | {
      readonly ok: true;
      readonly text: string;
      readonly encoding: string;
      readonly encode: (text: string) => Buffer;
      readonly charset: 'utf8' | 'latin1';
      readonly bom: boolean;
    }
  | { readonly ok: false; readonly encoding: string; readonly reason: string };

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const COOKIE = /^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)/;

/** The declared encoding (CPython's regular expression, on line 1, or line 2 after a comment or blank line 1). */
export function declaredEncoding(bytes: Uint8Array): string | undefined {
  const head = Buffer.from(bytes.subarray(0, 4096)).toString('latin1');
  const [first = '', second = ''] = head.split(/\r\n|\r|\n/, 2);
  const m = COOKIE.exec(first) ?? (/^[ \t\f]*(#.*)?$/.test(first) ? COOKIE.exec(second) : null);
  return m?.[1];
}

/** CPython's normal names for the UTF-8 and Latin-1 families, other names lowercased with `_` as `-`. */
function normalName(name: string): string {
  const n = name.toLowerCase().replace(/_/g, '-');
  if (n === 'utf-8' || n === 'utf8' || n.startsWith('utf-8-')) return 'utf-8';
  if (/^(latin-1|iso-8859-1|iso-latin-1)(-|$)/.test(n)) return 'iso-8859-1';
  return n;
}

/**
 * Single-byte encodings in which every byte below 0x80 is ASCII and stands for itself: a text read
 * one byte to one character (Latin-1) keeps every byte, and ASCII edits stay what they say.
 */
const ASCII_SAFE =
  /^(ascii|us-ascii|646|iso-8859-1|latin-?[0-9]{1,2}|l[0-9]|iso-?8859-[0-9]{1,2}|cp(437|8[0-9]{2}|125[0-8])|windows-125[0-8]|koi8-[ru]|mac-?roman)$/;

/** Decodes a Python source as CPython would, for reading and for editing in place. */
export function decodePython(bytes: Uint8Array): DecodedSource {
  const buf = Buffer.from(bytes);
  const declared = declaredEncoding(buf);
  const hasBom = buf.subarray(0, 3).equals(BOM);
  const encoding = declared ? normalName(declared) : 'utf-8';
  if (hasBom && encoding !== 'utf-8')
    return { ok: false, encoding, reason: `it has a UTF-8 byte order mark and declares ${declared}` };
  if (encoding === 'utf-8') {
    const body = hasBom ? buf.subarray(3) : buf;
    try {
      const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body);
      return {
        ok: true,
        text,
        encoding,
        charset: 'utf8',
        bom: hasBom,
        encode: (t) => Buffer.concat([hasBom ? BOM : Buffer.alloc(0), Buffer.from(t, 'utf8')]),
      };
    } catch {
      return { ok: false, encoding, reason: 'it is not valid UTF-8 and declares no other encoding' };
    }
  }
  if (ASCII_SAFE.test(encoding))
    return {
      ok: true,
      text: buf.toString('latin1'),
      encoding,
      charset: 'latin1',
      bom: false,
      encode: (t) => Buffer.from(t, 'latin1'),
    };
  return { ok: false, encoding, reason: `it declares ${declared}, an encoding in which agent-infra does not edit` };
}

/** The line ending a text uses (its first one), for lines added to it. */
export function lineEnding(text: string): '\r\n' | '\n' | '\r' {
  const m = /\r\n|\n|\r/.exec(text);
  return (m?.[0] as '\r\n' | '\n' | '\r' | undefined) ?? '\n';
}
