/** Runs one bench by name: npm run bench -- evaluate */
const benches: Record<string, () => Promise<unknown>> = {
  evaluate: () => import('./evaluate.js'),
  synth: () => import('./synth.js'),
  model: () => import('./model.js'),
  predict: () => import('./predict.js'),
  train: () => import('./train.js'),
  threads: () => import('./threads.js'),
  report: () => import('./report.js'),
  preprocess: () => import('./preprocess.js'),
};
const name = process.argv[2];
if (!name || !benches[name]) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}>`);
  process.exit(2);
}
await benches[name]();
