use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(post("/a"))]
    async fn call(&self) -> Result<(), Error>;
}

fn main() {}
