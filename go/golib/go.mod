module demo.local/golib

go 1.22
