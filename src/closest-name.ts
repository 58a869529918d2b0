/**
 * Suggestions for a misspelt name: the candidate closest to it, when one is close enough to be the
 * name meant. Pure; used only on failure paths, so it favours clarity over speed.
 */

/**
 * The edit distance between `a` and `b` as optimal string alignment (Damerau-Levenshtein without
 * repeated edits of a substring): insertions, deletions, substitutions and swaps of two adjacent
 * characters each cost 1. Compared by UTF-16 code unit.
 */
export function editDistance(a: string, b: string): number {
  // Three rows of the dynamic programme: two back (for swaps), one back, and the current one.
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = new Array<number>(b.length + 1);
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, (before[j - 2] as number) + 1);
      }
      current[j] = best;
    }
    before = previous;
    previous = current;
  }
  return previous[b.length] as number;
}

/** The largest edit distance at which a candidate still counts as the name meant. */
export const MAX_SUGGESTION_DISTANCE = 2;

/**
 * The candidate most likely meant by `name`, or undefined when none is close enough. A candidate
 * equal to `name` but for letter case is the closest of all. Otherwise the one at the smallest
 * case-insensitive {@link editDistance}, which must be at most {@link MAX_SUGGESTION_DISTANCE} and
 * less than half the length of `name` (so that `id` does not suggest `pk`); on a tie the first.
 * `name` itself is never suggested.
 */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  const limit = Math.min(MAX_SUGGESTION_DISTANCE, Math.ceil(name.length / 2) - 1);
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === name) continue;
    const candidateLower = candidate.toLowerCase();
    if (candidateLower === lower) return candidate;
    // A length gap over the limit is a distance over it: skip the table.
    if (Math.abs(candidateLower.length - lower.length) > limit) continue;
    const distance = editDistance(lower, candidateLower);
    if (distance <= limit && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
