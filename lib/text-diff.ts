/** A unified diff of two texts, line by line (Myers' shortest edit script), as GNU `diff -u` prints it. */

type Op = { readonly kind: ' ' | '-' | '+'; readonly line: string };

/** The shortest edit script from `a` to `b` (Myers 1986, O((N+M)D)). */
function editScript(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const v = new Map<number, number>([[1, 0]]);
  const trace: Map<number, number>[] = [];
  outer: for (let d = 0; d <= max; d++) {
    trace.push(new Map(v));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v.get(k - 1)! < v.get(k + 1)!) ? v.get(k + 1)! : v.get(k - 1)! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v.set(k, x);
      if (x >= n && y >= m) break outer;
    }
  }
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0 && (x > 0 || y > 0); d--) {
    const vd = trace[d]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && vd.get(k - 1)! < vd.get(k + 1)!) ? k + 1 : k - 1;
    const prevX = vd.get(prevK) ?? 0;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      ops.push({ kind: ' ', line: a[x]! });
    }
    if (d === 0) break;
    if (x === prevX) ops.push({ kind: '+', line: b[--y]! });
    else ops.push({ kind: '-', line: a[--x]! });
  }
  return ops.reverse();
}

/**
 * Splits a text into lines at `\n`, each line keeping a `\r` before it (as `diff` shows a CRLF file);
 * a last line without a newline is marked with the `\ No newline at end of file` line after it.
 */
function lines(text: string): string[] {
  const out = text.split('\n');
  if (out.at(-1) === '') out.pop();
  else out[out.length - 1] += '\n\\ No newline at end of file';
  return out;
}

/** `diff -u` of two texts: `--- a` / `+++ b` and hunks with `context` lines around each change; '' when equal. */
export function unifiedDiff(aName: string, bName: string, aText: string, bText: string, context = 3): string {
  const ops = editScript(lines(aText), lines(bText));
  const changed = ops.map((o, i) => (o.kind !== ' ' ? i : -1)).filter((i) => i >= 0);
  if (changed.length === 0) return '';
  let out = `--- ${aName}\n+++ ${bName}\n`;
  let i = 0;
  while (i < changed.length) {
    const start = Math.max(0, changed[i]! - context);
    let end = changed[i]! + context;
    while (i + 1 < changed.length && changed[i + 1]! - context <= end + 1) end = changed[++i]! + context;
    end = Math.min(ops.length - 1, end);
    i++;
    const before = ops.slice(0, start);
    const aStart = before.filter((o) => o.kind !== '+').length + 1;
    const bStart = before.filter((o) => o.kind !== '-').length + 1;
    const hunk = ops.slice(start, end + 1);
    const aLen = hunk.filter((o) => o.kind !== '+').length;
    const bLen = hunk.filter((o) => o.kind !== '-').length;
    const range = (startLine: number, len: number) =>
      len === 1 ? `${startLine}` : `${len === 0 ? startLine - 1 : startLine},${len}`;
    out += `@@ -${range(aStart, aLen)} +${range(bStart, bLen)} @@\n`;
    for (const o of hunk) out += `${o.kind}${o.line}\n`;
  }
  return out;
}
