use fintecture_oauth::{Error, api};

#[api]
pub trait Api {
    #[endpoint(get = "/a")]
    async fn call(&self) -> Result<(), Error>;
    fn helper(&self) -> u32;
    const LIMIT: u32;
    type Page;
}

fn main() {}
