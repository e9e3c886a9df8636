/**
 * The errors CPython's tokenizer reports, at the line it reports them: brackets that do not match or
 * are never closed, strings never terminated, and indentation (an unexpected indent, a block that is
 * not indented, an unindent to no outer level). A syntax tree recovers from these at other places;
 * a user fixing a file needs Python's line. A scan of the characters, not of lines with patterns.
 */
/** A syntax error: the line Python reports, and what it says. */
export interface SyntaxProblem {
  readonly line: number;
  readonly message: string;
}

const CLOSER: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

/**
 * The error Python 3.11 reports for `text` when it is one of these, or undefined. The first problem
 * in the file decides: a tokenizer error (a bracket, a string, an unindent) or an unexpected indent
 * is reported where it is; after a block that is not indented or a `try` without `except` or
 * `finally`, CPython tokenizes the rest of the file and reports a tokenizer error found anywhere
 * there instead, else that error.
 */
export function tokenProblem(text: string): SyntaxProblem | undefined {
  const ind = new Indentation();
  const stack: { ch: string; line: number }[] = [];
  let line = 1;
  let i = 0;
  let atLineStart = true;
  let continued = false;
  // The last significant character of the logical line so far.
  let last = '';
  const n = text.length;
  while (i < n) {
    if (atLineStart) {
      atLineStart = false;
      if (stack.length === 0 && !continued) {
        let col = 0;
        let j = i;
        for (; j < n && (text[j] === ' ' || text[j] === '\t' || text[j] === '\f'); j++)
          col = text[j] === '\t' ? (Math.floor(col / 8) + 1) * 8 : text[j] === ' ' ? col + 1 : 0;
        const blank = j >= n || text[j] === '\n' || text[j] === '\r' || text[j] === '#';
        // After the parser's first error its indentation is not followed further.
        if (!blank && !ind.parserError) {
          const problem = ind.next(col, /^[A-Za-z_]\w*/.exec(text.slice(j, j + 20))?.[0] ?? '', line);
          if (problem) return problem;
        }
        i = j;
        continue;
      }
      continued = false;
    }
    const c = text[i]!;
    if (c === '\n') {
      if (stack.length === 0 && last === ':') ind.blockHeaderLine = line;
      if (stack.length === 0) last = '';
      line++;
      i++;
      atLineStart = true;
      continue;
    }
    if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (c === '\\' && (text[i + 1] === '\n' || (text[i + 1] === '\r' && text[i + 2] === '\n'))) {
      i += text[i + 1] === '\n' ? 2 : 3;
      line++;
      atLineStart = true;
      continued = true;
      continue;
    }
    if (c === '"' || c === "'") {
      const end = skipString(text, i, line);
      if ('problem' in end) return end.problem;
      line = end.line;
      i = end.index;
      last = 's';
      continue;
    }
    if (c === '(' || c === '[' || c === '{') {
      // CPython's tokenizer keeps at most 200 open brackets (MAXLEVEL).
      if (stack.length >= 200) return { line, message: 'too many nested parentheses' };
      stack.push({ ch: c, line });
    } else if (c in CLOSER) {
      const open = stack.pop();
      if (!open) return { line, message: `unmatched '${c}'` };
      if (open.ch !== CLOSER[c]) {
        return {
          line,
          message: `closing parenthesis '${c}' does not match opening parenthesis '${open.ch}'${open.line !== line ? ` on line ${open.line}` : ''}`,
        };
      }
    }
    if (c !== ' ' && c !== '\t' && c !== '\r' && c !== '\f') last = c;
    i++;
  }
  const open = stack[stack.length - 1];
  return open ? { line: open.line, message: `'${open.ch}' was never closed` } : ind.parserError;
}

/** The indentation of logical lines, as CPython's tokenizer and parser check it. */
class Indentation {
  private readonly indents = [0];
  /** The indentation of each open `try` block's header. */
  private readonly tries: number[] = [];
  private headerIsTry = false;
  /** The line of a block header (a logical line ending in `:`) whose block has not started yet. */
  blockHeaderLine = 0;
  /** The parser's first error, reported unless a tokenizer error turns up in the rest of the file. */
  parserError: SyntaxProblem | undefined;

  /** A logical line at column `col` starting with `word`: the tokenizer error to report at once, if any. */
  next(col: number, word: string, line: number): SyntaxProblem | undefined {
    const top = this.indents[this.indents.length - 1]!;
    if (this.blockHeaderLine) {
      if (col <= top)
        this.parserError ??= {
          line,
          message: `expected an indented block after the statement on line ${this.blockHeaderLine}`,
        };
      else {
        // CPython's tokenizer keeps at most 100 levels of indentation (MAXINDENT).
        if (this.indents.length >= 100) return { line, message: 'too many levels of indentation' };
        this.indents.push(col);
        if (this.headerIsTry) this.tries.push(top);
      }
    } else if (col > top) {
      // Reported as it is, without looking further (CPython's INDENT case).
      return { line, message: 'unexpected indent' };
    } else if (col < top) {
      while (this.indents.length > 1 && this.indents[this.indents.length - 1]! > col) this.indents.pop();
      if (this.indents[this.indents.length - 1] !== col)
        return { line, message: 'unindent does not match any outer indentation level' };
    }
    // A try block has ended: what follows at its level must be its except or finally.
    const t = this.tries[this.tries.length - 1];
    if (!this.parserError && t !== undefined && col <= t && !this.blockHeaderLine) {
      if (col === t && (word === 'except' || word === 'finally')) this.tries.pop();
      else this.parserError = { line, message: "expected 'except' or 'finally' block" };
    }
    this.headerIsTry = word === 'try';
    this.blockHeaderLine = 0;
    return undefined;
  }
}

/** Skips the string literal whose quote is at `i`: where it ends, or the error of a string never terminated. */
function skipString(
  text: string,
  i: number,
  line: number,
): { index: number; line: number } | { problem: SyntaxProblem } {
  const q = text[i]!;
  const triple = text[i + 1] === q && text[i + 2] === q;
  const start = line;
  let j = i + (triple ? 3 : 1);
  while (j < text.length) {
    const c = text[j]!;
    if (c === '\\') {
      if (text[j + 1] === '\n') line++;
      j += 2;
      continue;
    }
    if (c === '\n') {
      if (!triple) return { problem: { line, message: `unterminated string literal (detected at line ${line})` } };
      line++;
    }
    if (c === q && (!triple || (text[j + 1] === q && text[j + 2] === q))) return { index: j + (triple ? 3 : 1), line };
    j++;
  }
  return {
    problem: triple
      ? { line: start, message: `unterminated triple-quoted string literal (detected at line ${line})` }
      : { line, message: `unterminated string literal (detected at line ${line})` },
  };
}
