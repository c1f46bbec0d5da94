// The credential manager's two calls to the control plane, kept together: the credentials issued
// for an active activation, and an activation's current view (to learn it ended on the server).
import type { ActivationView } from '../../shared/activation';
import type { IssuedCredentials } from '../../shared/credentials';
import { ControlPlaneClient } from '../activation/cp-client';
import type { DeviceKey } from '../keystore';

export function fetchIssuedCredentials(server: string, key: DeviceKey, activation: string): Promise<IssuedCredentials> {
  return new ControlPlaneClient(server, key).call<IssuedCredentials>(
    'POST',
    `/api/v1/activations/${encodeURIComponent(activation)}/credentials`,
    {},
  );
}

export function fetchActivation(server: string, key: DeviceKey, id: string): Promise<ActivationView> {
  return new ControlPlaneClient(server, key).call<ActivationView>(
    'GET',
    `/api/v1/activations/${encodeURIComponent(id)}`,
  );
}
