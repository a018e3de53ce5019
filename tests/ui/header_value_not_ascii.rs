use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/a", header("X-Name" = "café"))]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
