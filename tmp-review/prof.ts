import { liftExpressions } from '../src/ensemble/lift';
import { loadEnsemble } from '../src/ensemble/loader';
for (const n of [5000, 10000, 20000]) {
  const src = 'agents:\n  - name: a\n    operation: code\n    config: { script: greet }\n    input: "' + '${'.repeat(n) + '"\n';
  let t = Date.now(); liftExpressions(src); const lift = Date.now() - t;
  t = Date.now(); loadEnsemble({ file: 'x', source: src }, { scripts: new Set(['greet']) }); console.log(n, 'lift', lift, 'load', Date.now() - t);
}
