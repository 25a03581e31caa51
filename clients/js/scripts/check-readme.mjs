// The README's React snippet must be examples/react.tsx, which CI
// type-checks, so that the snippet people copy compiles.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const read = (p) => readFileSync(fileURLToPath(new URL(p, import.meta.url)), 'utf8');
const readme = read('../README.md');
const block = /```tsx\n([\s\S]*?)```/.exec(readme);
const source = read('../examples/react.tsx').replace(/^\/\/.*\n/, '');
if (!block || block[1] !== source) {
  console.error('README.md: the tsx block differs from examples/react.tsx (less its first comment line); copy it over');
  process.exit(1);
}
