use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/x", header("Bad Name" = "v"))]
    async fn call(&self, #[header("X-Ok")] ok: &str, #[header("No:Colon")] bad: &str) -> Result<(), Error>;
}

fn main() {}
