import { main } from './main';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`pim: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
