// Command etcd is the etcd server, built from go.etcd.io/etcd/server/v3 for the local
// control plane that tests and `make dev` run. It exists because no prebuilt binary can be
// downloaded here.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
