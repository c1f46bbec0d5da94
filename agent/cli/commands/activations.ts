import { EXIT, type Command } from '../command';
import { activationsText, neverSigned } from '../format';

export const activations: Command = {
  name: 'activations',
  summary: 'Your recent activations, their states and who approved them',
  usage: `  pim activations [--all] [--json]
                                  Your recent activations, their states and who approved them
                                  (--all: also requests nobody signed, which lapse after 5 min)`,
  run: ({ options: o }, { io, withActivation }) =>
    withActivation(async (svc) => {
      const all = await svc.list();
      if (o.json) io.json(o.all ? all : all.filter((a) => !neverSigned(a)));
      else io.out(activationsText(all, { all: o.all }));
      return EXIT.ok;
    }),
};
