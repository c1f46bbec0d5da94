// The agent's "now", ticking once a second while `live` (a countdown is on screen).
import { useEffect, useState } from 'react';

export function useNow(clockOffsetMs: number, live: boolean): number {
  const [now, setNow] = useState(() => Date.now() + clockOffsetMs);
  useEffect(() => {
    setNow(Date.now() + clockOffsetMs);
    if (!live) return;
    const timer = setInterval(() => setNow(Date.now() + clockOffsetMs), 1000);
    return () => clearInterval(timer);
  }, [clockOffsetMs, live]);
  return now;
}
