// Where things live on a kubeadm control-plane node. A module of its own so that every command's
// flag declarations can name the defaults without loading the code that edits the files.

export const DEFAULT_MANIFESTS_DIR = '/etc/kubernetes/manifests'
export const DEFAULT_MANIFEST = '/etc/kubernetes/manifests/kube-apiserver.yaml'
/** Outside the manifests directory: the kubelet runs every non-hidden file there as a static pod. */
export const DEFAULT_BACKUP_DIR = '/etc/kubernetes/imgsec-backups'
/** Where `whitelist enable` keeps certificates, the policy and the API server's configuration. */
export const DEFAULT_CONFIG_DIR = '/etc/kubernetes/imgsec'
