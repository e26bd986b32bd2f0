// Command oracle serves the OSCAR Manager's own gin handlers (imported from
// the released module, never copied) over a Kubernetes fake clientset on a
// loopback port, so tests can compare its answers with oscar-local's.
// It prints "listening on <port>" once ready and serves until killed.
package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/gin-gonic/gin"
	"github.com/grycap/oscar/v3/pkg/backends"
	"github.com/grycap/oscar/v3/pkg/handlers"
	"github.com/grycap/oscar/v3/pkg/handlers/buckets"
	"github.com/grycap/oscar/v3/pkg/types"
	"github.com/grycap/oscar/v3/pkg/utils/auth"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// standInMinIO answers the S3 and MinIO admin calls the create, update and
// delete handlers make (bucket creation, webhook and policy registration)
// with success, as a MinIO that accepts everything would.
func standInMinIO() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/minio/admin/v3/info":
			w.Write([]byte(`{"Mode":"local","Region":"us-east-1"}`))
		case r.Method == http.MethodGet && r.URL.Query().Has("location"):
			w.Header().Set("Content-Type", "application/xml")
			w.Write([]byte(`<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>`))
		case r.Method == http.MethodGet && r.URL.Query().Has("tagging"):
			w.Header().Set("Content-Type", "application/xml")
			w.Write([]byte(`<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet></TagSet></Tagging>`))
		case r.Method == http.MethodHead:
			w.WriteHeader(http.StatusNotFound)
		default:
			w.Write([]byte(`{"status":"success"}`))
		}
	}))
}

func main() {
	gin.SetMode(gin.ReleaseMode)
	minio := standInMinIO()
	defer minio.Close()
	cfg := &types.Config{
		Name:              "oscar",
		Namespace:         "oscar",
		ServicesNamespace: "oscar-svc",
		Username:          os.Getenv("ORACLE_USER"),
		Password:          os.Getenv("ORACLE_PASSWORD"),
		ServerlessBackend: "",
		MinIOProvider: &types.MinIOProvider{
			Endpoint:  minio.URL,
			Region:    "us-east-1",
			AccessKey: "minioadmin",
			SecretKey: "minioadmin",
			Verify:    true,
		},
		JobListingLimit: 70,
	}
	kube := fake.NewSimpleClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: cfg.ServicesNamespace}},
	)
	back := backends.MakeKubeBackend(kube, cfg)

	r := gin.New()
	r.Use(gin.Recovery()) // as gin.Default() in the Manager's main.go: a panic is an empty 500
	system := r.Group("/system", auth.GetAuthMiddleware(cfg, kube))
	system.GET("/config", handlers.MakeConfigHandler(cfg))
	system.POST("/services", handlers.MakeCreateHandler(cfg, back))
	system.GET("/services", handlers.MakeListHandler(back))
	system.GET("/services/:serviceName", handlers.MakeReadHandler(back))
	system.PUT("/services", handlers.MakeUpdateHandler(cfg, back))
	system.DELETE("/services/:serviceName", handlers.MakeDeleteHandler(cfg, back))
	system.GET("/logs/:serviceName", handlers.MakeJobsInfoHandler(back, kube, cfg))
	system.GET("/logs/:serviceName/:jobName", handlers.MakeGetLogsHandler(back, kube, cfg))
	system.DELETE("/logs/:serviceName", handlers.MakeDeleteJobsHandler(back, kube, cfg))
	system.DELETE("/logs/:serviceName/:jobName", handlers.MakeDeleteJobHandler(back, kube, cfg))
	// bucket routes: their JSON decoding (MinIO calls reach the stand-in, which accepts them)
	system.POST("/buckets", buckets.MakeCreateHandler(cfg))
	system.PUT("/buckets", buckets.MakeUpdateHandler(cfg))
	system.POST("/buckets/:bucket/presign", buckets.MakePresignHandler(cfg))
	system.GET("/info", handlers.MakeInfoHandler(kube, back))
	r.GET("/health", handlers.HealthHandler)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %d\n", ln.Addr().(*net.TCPAddr).Port)
	if err := r.RunListener(ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
