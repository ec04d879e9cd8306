// Command etcd is etcd's own server main, at the version kube-apiserver's go.mod requires.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
