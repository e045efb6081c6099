module demo.local/greet

go 1.22
