package mongotx_test

import (
	"testing"

	"github.com/sagaoutbox/platform/commonlib/mongotx"
)

func TestRedactURI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mongodb://relay:s3cret@m1:27017,m2:27018/?replicaSet=rs", "mongodb://relay:***@m1:27017,m2:27018/?replicaSet=rs"},
		{"mongodb+srv://relay:p%40ss@cluster.example.net/db", "mongodb+srv://relay:***@cluster.example.net/db"},
		{"mongodb://m1:27017/?directConnection=true", "mongodb://m1:27017/?directConnection=true"},
		{"mongodb://relay@m1:27017/?authMechanism=MONGODB-X509", "mongodb://relay@m1:27017/?authMechanism=MONGODB-X509"},
		{"mongodb://m1/?x=a@b", "mongodb://m1/?x=a@b"},
		{"mongodb://relay:p@ss/w@rd@m1:27017/?replicaSet=rs", "mongodb://relay:***@m1:27017/?replicaSet=rs"},
		{"mongodb+srv://app:p@ss@cluster/db", "mongodb+srv://app:***@cluster/db"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := mongotx.RedactURI(tt.in); got != tt.want {
				t.Errorf("RedactURI() = %q, want %q", got, tt.want)
			}
		})
	}
}
