module github.com/sagaoutbox/platform/debezium

go 1.26.0
