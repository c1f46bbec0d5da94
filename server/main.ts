import { errorMessage } from '../shared/errors';
import { main } from './cli';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`pim-server: ${errorMessage(e)}\n`);
    process.exitCode = 1;
  },
);
