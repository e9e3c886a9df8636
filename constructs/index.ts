export * from './agent-workload.ts';
export * from './gpu.ts';
export * from './gpu-sharing-chart.ts';
export * from './machine-chart.ts';
export * from './system-chart.ts';
export * from './agent-system.ts';
export * from './infrastructure.ts';
