// The credential manager's two calls to the control plane, kept together: the credentials issued
// for an active activation, and an activation's current view (to learn it ended on the server).
// Both go through the contract (shared/contracts/activations.ts), which checks each reply's shape.
import type { ActivationView } from '../../shared/activation';
import type { IssuedCredentials } from '../../shared/credentials';
import { ControlPlaneClient } from '../activation/cp-client';
import type { DeviceKey } from '../keystore';

export function fetchIssuedCredentials(server: string, key: DeviceKey, activation: string): Promise<IssuedCredentials> {
  return new ControlPlaneClient(server, key).request('issueCredentials', { params: { id: activation }, body: {} });
}

export function fetchActivation(server: string, key: DeviceKey, id: string): Promise<ActivationView> {
  return new ControlPlaneClient(server, key).request('getActivation', { params: { id } });
}
