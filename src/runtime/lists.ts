/** The items of a list given as one option value ("a, b," → ["a", "b"]): split, trimmed, empty items dropped. */
export function commaList(value: string, separator: RegExp = /,/): string[] {
  return value
    .split(separator)
    .map((item) => item.trim())
    .filter((item) => item !== '');
}
