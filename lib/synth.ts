/** `agent-infra synth`: placeholder until the emitters land. */
export function synthCommand(_args: readonly string[]): number {
  console.error('agent-infra: synth is not available yet [usage]');
  return 2;
}
