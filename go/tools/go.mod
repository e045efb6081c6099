module demo.local/tools

go 1.22
