// The clock decisions read, injected so tests move it instead of waiting (server services, the agent's
// activation service). Only the composition roots use systemClock.
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
