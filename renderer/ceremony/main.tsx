// The ceremony page the control plane serves at /ceremony/(enrol|activation|approval)/ID.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { CeremonyApp } from './CeremonyApp';
import { parseCeremonyPath } from './model';

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <CeremonyApp route={parseCeremonyPath(location.pathname)} />
    </StrictMode>,
  );
}
