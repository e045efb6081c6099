module demo.local/hello

go 1.22

require demo.local/greet v0.0.0

replace demo.local/greet => ../greet
