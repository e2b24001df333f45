fn main() -> std::process::ExitCode {
    mrt::cli::main()
}
