/**
 * `{ [key]: value }` when the value is set, `{}` otherwise: for building objects under
 * `exactOptionalPropertyTypes`, where an optional field may be absent but not `undefined`.
 */
export function defined<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
