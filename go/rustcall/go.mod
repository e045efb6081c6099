module demo.local/rustcall

go 1.22
