// The parts of @kubernetes/client-node this tool uses, and the only module that loads it at run
// time. The build bundles this file (esbuild, tree-shaken, package.json "bundle:client-node") over
// tsc's output, so a command that talks to a cluster loads one file of ~1.8 MB instead of
// client-node's ~830 modules and their dependencies (~1 s before the first request on a loaded
// 2-CPU machine; ~0.25 s after). The release bundle (npm run package) is tree-shaken the same way.
// Tests import this source file, which re-exports the package as it is.
export {
  AppsV1Api,
  AuthorizationV1Api,
  BatchV1Api,
  CoreV1Api,
  createConfiguration,
  Health,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  ServerConfiguration,
  setHeaderOptions,
  VersionApi,
} from '@kubernetes/client-node'
