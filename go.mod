module github.com/sshenrich/sshenrich

go 1.24
