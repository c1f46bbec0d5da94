import { main } from './cli';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`pim-server: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
