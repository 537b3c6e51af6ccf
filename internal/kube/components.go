package kube

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const (
	// serviceCIDR is the Service IP range; its first address is the
	// "kubernetes" Service, which the serving certificate names.
	serviceCIDR         = "10.96.0.0/16"
	kubernetesServiceIP = "10.96.0.1"
	// podCIDR is where kwok hands out simulated pod IPs.
	podCIDR = "10.244.0.0/16"
	// serviceAccountIssuer is the iss claim of ServiceAccount tokens.
	serviceAccountIssuer = "https://kubernetes.default.svc.cluster.local"
)

// ports are the loopback ports one start uses; all are picked free.
type ports struct {
	etcdClient, etcdPeer, apiserver, controllerManager, scheduler int
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// etcdArgs runs a single-member etcd on loopback. Without fsync a test
// cluster is several times quicker to write to; its data dies with it anyway.
func etcdArgs(dir string, p ports) []string {
	client := "http://" + loopback(p.etcdClient)
	peer := "http://" + loopback(p.etcdPeer)
	return []string{
		"--name=canaryflow",
		"--data-dir=" + filepath.Join(dir, "etcd"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=canaryflow=" + peer,
		"--unsafe-no-fsync",
		"--log-level=warn",
	}
}

// apiserverArgs runs kube-apiserver against etcd with client-certificate
// authentication (the admin kubeconfig), ServiceAccount token signing (so
// tests can mint tokens with the TokenRequest API) and RBAC, so that a
// ServiceAccount's permissions are really enforced.
//
// --endpoint-reconciler-type=none: the API server does not publish its own
// address into the "kubernetes" Endpoints, which on a loopback-only test
// server only churns and slows shutdown.
func apiserverArgs(dir string, p ports, certs *pki) []string {
	return []string{
		"--etcd-servers=http://" + loopback(p.etcdClient),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(p.apiserver),
		"--tls-cert-file=" + certs.servingCert,
		"--tls-private-key-file=" + certs.servingKey,
		"--client-ca-file=" + certs.caFile,
		"--service-account-issuer=" + serviceAccountIssuer,
		"--service-account-key-file=" + certs.saPublicFile,
		"--service-account-signing-key-file=" + certs.saPrivateFile,
		"--service-cluster-ip-range=" + serviceCIDR,
		"--authorization-mode=RBAC",
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false",
		"--allow-privileged=true",
		"--profiling=false",
		"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
	}
}

// controllerManagerArgs runs the controllers that turn a Deployment into
// scheduled pods. Leader election is off: there is one instance, and
// electing itself would only delay start-up.
//
// The node monitor grace period is longer than kwok's node/heartbeat stage's
// largest interval (20 s + up to 25 s jitter), so a busy machine never sees
// the fake node flap to NotReady and its pods evicted.
func controllerManagerArgs(p ports, certs *pki, kubeconfig string) []string {
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(p.controllerManager),
		"--leader-elect=false",
		"--service-account-private-key-file=" + certs.saPrivateFile,
		"--root-ca-file=" + certs.caFile,
		"--service-cluster-ip-range=" + serviceCIDR,
		"--node-monitor-grace-period=2m",
		"--profiling=false",
	}
}

// schedulerArgs runs kube-scheduler, a single instance without leader election.
func schedulerArgs(p ports, kubeconfig string) []string {
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(p.scheduler),
		"--leader-elect=false",
		"--profiling=false",
	}
}

// kwokArgs runs kwok managing every node, with the stage files that make a
// node Ready (node/fast), keep it Ready (node/heartbeat) and take a
// scheduled pod straight to Running and Ready (pod/fast). With neither
// --server-address nor --node-port it opens no port of its own.
func kwokArgs(kubeconfig string, stageFiles []string) []string {
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--manage-all-nodes=true",
		"--cidr=" + podCIDR,
		"--node-ip=127.0.0.1",
	}
	for _, f := range stageFiles {
		args = append(args, "--config="+f)
	}
	return args
}

// adminRESTConfig is a cluster-admin client of the API server at host:port.
func adminRESTConfig(hostPort string, certs *pki) *rest.Config {
	return &rest.Config{
		Host: "https://" + hostPort,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   certs.caPEM,
			CertData: certs.adminCertPEM,
			KeyData:  certs.adminKeyPEM,
		},
		// Tests create objects in bursts; client-go's default of 5 QPS
		// would make them wait on the client, not the server.
		QPS:   100,
		Burst: 200,
	}
}

// writeKubeconfig writes cfg as a self-contained kubeconfig (credentials
// embedded, not referenced), usable by components, kubectl and Helm alike.
func writeKubeconfig(path string, cfg *rest.Config, user string) error {
	const name = "canaryflow-test"
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
	}
	kc.AuthInfos[user] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientKeyData:         cfg.KeyData,
		Token:                 cfg.BearerToken,
	}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: user, Namespace: "default"}
	kc.CurrentContext = name
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}
