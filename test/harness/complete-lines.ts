// Lines of a log another process may be writing right now: a line counts only
// once its writer has ended it, so a half-written JSON entry is never parsed.
export function completeLines(text: string): string[] {
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter(Boolean);
}
