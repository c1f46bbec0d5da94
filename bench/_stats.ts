export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
export const median = (xs: number[]) => quantile(xs, 0.5);
export const ms = (x: number) => `${x.toFixed(x < 10 ? 3 : 1)} ms`;
export function goal(label: string, value: number, limit: number): string {
  return `${label}: ${ms(value)} (goal ≤ ${limit} ms: ${value <= limit ? 'met' : 'NOT met'})`;
}
